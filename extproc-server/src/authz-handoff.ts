// The hand-off contract lives in lib (one module both servers import); this path stays for importers.
export { readAuthzHandOff, type AuthzHandOff, type HandOffReading } from "../../lib/src/handoff/contract.js";
