/**
 * The one sentence every runtime but Bun gets from recsys: importing the package from Node
 * (see ./not-bun.ts) or running its `recsys` command without Bun on the PATH (bin/launch.ts).
 */
export const REQUIRES_BUN =
  "recsys runs on Bun ≥ 1.4 (it uses bun:sqlite and Bun workers); install Bun (https://bun.sh or npm i -g bun) and run your program with bun";
