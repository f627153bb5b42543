/** SQL identifiers that come from flags or the environment are checked, never quoted blindly. */
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Reserved prefixes: the store's own bookkeeping tables. */
const RESERVED = /^(sqlite_|recsys_)/i;

export class InvalidTableNameError extends Error {
  override name = "InvalidTableNameError";
}

/**
 * Returns `name` if it is a safe results-table name (`[A-Za-z_][A-Za-z0-9_]{0,63}`, not one of
 * the input tables or the store's own), else throws {@link InvalidTableNameError}.
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
  return name;
}

const INPUT_TABLES = new Set(["user_interests", "user_assessment_scores", "user_course_views", "course_tags"]);
