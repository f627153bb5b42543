/**
 * What the npm package's `exports` give every runtime but Bun (the `default` condition, which
 * Node resolves): not the library, which needs `bun:sqlite` and Bun Workers and would fail with an
 * obscure loader error, but this module, which throws one clear sentence.
 *
 * @module
 */
import { REQUIRES_BUN } from "./requires-bun.ts";

throw new Error(REQUIRES_BUN);
