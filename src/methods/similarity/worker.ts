/**
 * Worker entry of the similarity top-n (started by the top-n driver; must be an extra entrypoint
 * of a compiled build).
 */
import { serveSelections } from "../../rank/driver.ts";
import { similarityKernel, similaritySlice } from "./kernel.ts";

serveSelections(similarityKernel, similaritySlice);
