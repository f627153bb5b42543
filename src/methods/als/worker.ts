/**
 * Worker entry of the ALS half-steps (started by `train.ts`; must be an extra entrypoint of a
 * compiled build).
 */
import { serveRows } from "../../parallel.ts";
import { halfStepKernel } from "./halfstep.ts";

serveRows(halfStepKernel);
