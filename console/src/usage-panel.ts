// Home of the usage panel (not built yet): per-credential usage over time — requests per day,
// refusals, the monthly quota — shown in each card between its facts and its actions. It will
// read through @clavis/sdk like the rest of the console. Today the card's facts carry this
// month's request count, and this renders nothing.

import { nothing } from "lit";
import type { Credential } from "@clavis/sdk";

export function renderUsagePanel(_credential: Credential): typeof nothing {
  return nothing;
}
