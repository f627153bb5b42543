import { readTables } from "/work/wt-als/src/read/index.ts";
import { evaluate } from "/work/wt-als/src/evaluate.ts";
const dir = process.argv[2];
const grid: Record<string, unknown>[] = JSON.parse(process.argv[3]);
const seed = Number(process.argv[4] ?? 42);
const { dataset } = await readTables(dir);
for (const opts of grid) {
  const r = await evaluate(dataset, { methods: ["als"], options: { als: opts }, seed });
  const x = r.results[0];
  console.log(`${JSON.stringify(opts).padEnd(90)} recall ${x.recall.toFixed(4)} ndcg ${x.ndcg.toFixed(4)} ${x.seconds.toFixed(1)} s`);
}
