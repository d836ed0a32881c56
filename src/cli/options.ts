/**
 * Small option helpers shared by the commands.
 *
 * @module
 */

/** Commander reducer for repeatable options. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
