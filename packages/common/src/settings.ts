import * as dotenv from 'dotenv';

/** The environment a service reads its settings from. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Every problem of a configuration, found at once; the message lists them all. */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * Reads `.env` from the working directory (never overriding variables already set) and
 * returns the process environment. The one place of a service that touches `process.env`.
 */
export function readEnvironment(): Env {
  dotenv.config();
  return process.env;
}

/**
 * Reads settings from an environment, collecting a problem (naming the variable and what
 * it takes) for each bad value instead of stopping at the first; `check()` throws them all
 * as one ConfigError. A setting may have older names (aliases) that are read when the
 * first name is unset.
 */
export class SettingsReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  /** The trimmed value of the first of `names` that is set and not blank. */
  raw(...names: string[]): { name: string; value: string } | undefined {
    for (const name of names) {
      const value = this.env[name]?.trim();
      if (value !== undefined && value !== '') return { name, value };
    }
    return undefined;
  }

  /** A whole number from `min` to `max`, inclusive. */
  int(names: string | readonly string[], fallback: number, min: number, max: number): number {
    const found = this.raw(...nameList(names));
    if (found === undefined) return fallback;
    if (!/^\d+$/.test(found.value) || Number(found.value) < min || Number(found.value) > max) {
      this.problems.push(`${found.name} must be a whole number from ${min} to ${max} (got "${found.value}")`);
      return fallback;
    }
    return Number(found.value);
  }

  text(names: string | readonly string[], fallback: string): string {
    return this.raw(...nameList(names))?.value ?? fallback;
  }

  /** Undefined when unset or blank. */
  optional(names: string | readonly string[]): string | undefined {
    return this.raw(...nameList(names))?.value;
  }

  /** One of `choices`, compared in lower case. */
  oneOf<T extends string>(names: string | readonly string[], choices: readonly T[], fallback: T): T {
    const found = this.raw(...nameList(names));
    if (found === undefined) return fallback;
    const value = found.value.toLowerCase();
    if ((choices as readonly string[]).includes(value)) return value as T;
    this.problems.push(`${found.name} must be one of ${choices.join(', ')} (got "${found.value}")`);
    return fallback;
  }

  /** Records a problem found by the caller (a rule between settings). */
  problem(text: string): void {
    this.problems.push(text);
  }

  /** Throws a ConfigError listing every problem found so far, if any. */
  check(): void {
    if (this.problems.length > 0) throw new ConfigError([...this.problems]);
  }
}

function nameList(names: string | readonly string[]): string[] {
  return typeof names === 'string' ? [names] : [...names];
}
