// The addresses page (placeholder until its page lands).
import { html } from "../lib/preact.js";
import { t } from "../lib/i18n.js";
import { PageHeader, Empty } from "../lib/ui.js";

export default function Page() {
  return html`<${PageHeader} title=${t("nav.addresses")} /><div class="card"><${Empty} /></div>`;
}
