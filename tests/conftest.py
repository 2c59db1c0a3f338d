"""The whole suite's plugins: tests/secret_watch.py checks every output for the suite's secrets."""

pytest_plugins = ["tests.secret_watch"]
