/**
 * `${VAR}` references in config values. `${VAR}` takes the variable's value
 * (set but empty is fine, unset is an error), `${VAR:-default}` takes the
 * default when the variable is unset or empty, and `$$` is a literal `$`.
 * A `$` followed by anything else is kept as is. Values taken from the
 * environment are not expanded again.
 *
 * @module
 */

/** Thrown by {@link expandEnv}. Its message names variables, never their values. */
export class EnvReferenceError extends Error {
  /** The unset variable, or null for a malformed reference. */
  readonly variable: string | null;

  /** Creates the error for `variable` (null when the reference is malformed). */
  constructor(message: string, variable: string | null) {
    super(message);
    this.name = "EnvReferenceError";
    this.variable = variable;
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands `${VAR}`, `${VAR:-default}` and `$$` in `text` from `env`.
 *
 * @throws {EnvReferenceError} for an unset variable without a default or a
 * malformed reference.
 */
export function expandEnv(text: string, env: Readonly<Record<string, string>>): string {
  if (!text.includes("$")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0 || dollar === text.length - 1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
      continue;
    }
    if (next !== "{") {
      out += "$";
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf("}", dollar + 2);
    if (close < 0) {
      throw new EnvReferenceError(
        `unterminated "\${" reference (write $$ for a literal $)`,
        null,
      );
    }
    const body = text.slice(dollar + 2, close);
    const sep = body.indexOf(":-");
    const name = sep < 0 ? body : body.slice(0, sep);
    if (!NAME.test(name)) {
      throw new EnvReferenceError(
        `bad reference "\${${name.slice(0, 40)}}": expected \${NAME} or \${NAME:-default}` +
          ` (write $$ for a literal $)`,
        null,
      );
    }
    const value = env[name];
    if (sep >= 0) {
      out += value === undefined || value === "" ? body.slice(sep + 2) : value;
    } else if (value === undefined) {
      throw new EnvReferenceError(`environment variable ${name} is not set`, name);
    } else {
      out += value;
    }
    i = close + 1;
  }
  return out;
}
