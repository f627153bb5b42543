/** SQL identifiers that come from flags or the environment are checked, never quoted blindly. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Reserved prefixes: the store's own bookkeeping tables. */
const RESERVED = /^(sqlite_|recsys_)/i;

/**
 * Marks the scratch tables the store fills before swapping them in (`X__recsys_next` for table X).
 * A results table named like one would be dropped by the next run for X, so no name may hold it
 * (SQLite names are case-insensitive, so neither may any spelling of it).
 */
export const SCRATCH_MARK = "__recsys_";

export class InvalidTableNameError extends Error {
  override name = "InvalidTableNameError";
}

/**
 * Returns `name` if it is a safe results-table name (`[A-Za-z_][A-Za-z0-9_]{0,63}`, not one of
 * the input tables, the store's own or a scratch name holding `__recsys_`), else throws {@link InvalidTableNameError}.
 */
export function validateTableName(name: string): string {
  if (!TABLE_NAME.test(name)) {
    throw new InvalidTableNameError(
      `invalid results table name ${JSON.stringify(name)}: expected a letter or underscore followed by up to 63 letters, digits or underscores`,
    );
  }
  if (RESERVED.test(name) || INPUT_TABLES.has(name.toLowerCase())) {
    throw new InvalidTableNameError(`invalid results table name ${JSON.stringify(name)}: that name is reserved for the store's own tables`);
  }
  if (name.toLowerCase().includes(SCRATCH_MARK)) {
    throw new InvalidTableNameError(
      `invalid results table name ${JSON.stringify(name)}: names containing "${SCRATCH_MARK}" are reserved for the scratch tables recsys swaps in (e.g. user_ranking${SCRATCH_MARK}next)`,
    );
  }
  return name;
}

const INPUT_TABLES = new Set(["user_interests", "user_assessment_scores", "user_course_views", "course_tags"]);
