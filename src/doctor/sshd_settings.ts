/**
 * The remote sshd's effective settings, as `sshd -T` prints them, for the
 * checks only sshd can answer (AllowTcpForwarding, MaxSessions,
 * ClientAlive*). Pure, apart from the fixed remote command it defines.
 *
 * `sshd -T` reads /etc/ssh/sshd_config unless told otherwise, while the sshd
 * that serves the connection may run with `-f OTHER`: the command therefore
 * walks up from its own process to the listening sshd (Linux /proc) and
 * takes its `-f`. sshd's listener keeps its original argv in its process
 * title ("sshd: /usr/sbin/sshd -D -f FILE [listener] ..."); a shell whose
 * command line holds this very script is skipped. `-C` applies the
 * Match blocks for this very connection (from $SSH_CONNECTION).
 *
 * Measured with OpenSSH 9.2: as a user other than root, `sshd -T` exits 255
 * with "sshd: no hostkeys available -- exiting.": the settings are then
 * unknown.
 *
 * @module
 */

// One line, no single quotes and no "\\": it is passed single-quoted through
// the user's login shell (sh, bash, zsh, fish) to sh.
const SCRIPT = [
  "f=; p=$PPID; i=0",
  `while [ "$i" -lt 8 ] && [ "\${p:-0}" -gt 1 ] 2>/dev/null; do c=$(tr "[:cntrl:]" " " < "/proc/$p/cmdline" 2>/dev/null); case "$c" in *rdhpf-sshd-exit*) ;; *sshd*" -f "*) f=\${c#* -f }; f=\${f%% *}; break ;; esac; p=$(sed -n "s/^PPid:[[:space:]]*//p" "/proc/$p/status" 2>/dev/null); i=$((i+1)); done`,
  "set -- $SSH_CONNECTION",
  'echo "rdhpf-sshd-config ${f:-default}"',
  "b=/usr/sbin/sshd; command -v sshd >/dev/null 2>&1 && b=sshd",
  's="user=$(id -un),host=$1,addr=$1,laddr=$3,lport=$4"',
  'if [ -n "$f" ]; then "$b" -T -f "$f" -C "$s" 2>&1; else "$b" -T -C "$s" 2>&1; fi',
  'echo "rdhpf-sshd-exit $?"',
].join("; ");

/** The fixed remote command that prints the serving sshd's effective settings. */
export const SSHD_SETTINGS_COMMAND: string[] = ["sh", "-c", SCRIPT];

/** What `SSHD_SETTINGS_COMMAND` found out. */
export type SshdSettings =
  | { known: true; configFile: string | null; values: Map<string, string> }
  | { known: false; configFile: string | null; reason: string };

/**
 * Reads the output of `SSHD_SETTINGS_COMMAND`: settings (lower-case keys,
 * first value) when `sshd -T` succeeded, else why not.
 */
export function parseSshdSettings(stdout: string): SshdSettings {
  let configFile: string | null = null;
  let exit: number | null = null;
  const values = new Map<string, string>();
  const other: string[] = [];
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const cfg = /^rdhpf-sshd-config (.+)$/.exec(line);
    if (cfg) {
      configFile = cfg[1] === "default" ? null : cfg[1]!;
      continue;
    }
    const ex = /^rdhpf-sshd-exit (\d+)$/.exec(line);
    if (ex) {
      exit = Number(ex[1]);
      continue;
    }
    const kv = /^([a-z][a-z0-9]*) (.*)$/.exec(line);
    if (kv && !values.has(kv[1]!)) values.set(kv[1]!, kv[2]!);
    else other.push(line);
  }
  if (exit === 0 && values.has("allowtcpforwarding")) return { known: true, configFile, values };
  const why = other[0] ?? (exit === null ? "the command did not finish" : `sshd -T exited with ${exit}`);
  return { known: false, configFile, reason: why.slice(0, 200) };
}
