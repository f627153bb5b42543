/**
 * Worker entry of the ALS half-steps (a pool started once per fit by `train.ts`; must be an extra
 * entrypoint of a compiled build).
 */
import { serveRowPool } from "../../parallel.ts";
import { halfStepKernels } from "./halfstep.ts";

serveRowPool(halfStepKernels);
