from kirogate.cli import main

raise SystemExit(main())
