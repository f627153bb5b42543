/**
 * Worker entry of the factor top-n (started by the top-n driver; must be an extra entrypoint of a
 * compiled build).
 */
import { serveSelections } from "./driver.ts";
import { factorKernel, factorSlice } from "./factors.ts";

serveSelections(factorKernel, factorSlice);
