/**
 * `rdhpf completions bash|zsh|fish`: a completion script generated from the
 * commander program itself (subcommands, their options, the values of
 * options with `.choices()`), so it cannot go stale.
 *
 * Every script works the same way: walk the words before the cursor from
 * the program name, descending into subcommands and skipping the values of
 * options that take one, which yields the command path ("rdhpf service
 * install"); then offer that path's options, subcommands or option values.
 *
 * Over 300 lines as one concept: the completion scripts of three shells, generated from one command tree.
 *
 * @module
 */
import { Argument, Command, type Option } from "@commander-js/extra-typings";

/** One option as completion sees it. */
export interface CompletionOption {
  short: string | null;
  long: string | null;
  takesValue: boolean;
  /** Enumerated values (`.choices()`); empty when free. */
  choices: string[];
  /** The value is a path (placeholder names a file, path, dir or socket): complete file names. */
  files: boolean;
  description: string;
}

/** One command of the tree, identified by its path ("rdhpf service install"). */
export interface CompletionNode {
  path: string;
  subcommands: Array<{ name: string; aliases: string[]; description: string }>;
  options: CompletionOption[];
  /** Enumerated values of positional arguments (e.g. the shell of `completions`). */
  argumentChoices: string[];
}

const PATH_PLACEHOLDER = /file|path|dir|sock/i;

function optionModel(opt: Option): CompletionOption {
  const placeholder = /<([^>]+)>|\[([^\]]+)\]/.exec(opt.flags);
  const takesValue = opt.required || opt.optional;
  return {
    short: opt.short ?? null,
    long: opt.long ?? null,
    takesValue,
    choices: [...(opt.argChoices ?? [])],
    files: takesValue && !opt.argChoices && placeholder !== null && PATH_PLACEHOLDER.test(placeholder[1] ?? placeholder[2] ?? ""),
    description: opt.description,
  };
}

function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").trim();
}

/** Walks the program into a flat list of nodes, root first. */
export function completionModel(program: Command): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  // `siblings` is set for commander's implicit `help [command]`, which takes their names.
  const visit = (cmd: Command, path: string, siblings: string[] | null) => {
    const help = cmd.createHelp();
    const subs = help.visibleCommands(cmd) as unknown as Command[];
    nodes.push({
      path,
      subcommands: subs.map((s) => ({ name: s.name(), aliases: [...s.aliases()], description: firstLine(s.description()) })),
      options: (help.visibleOptions(cmd) as unknown as Option[]).map(optionModel),
      argumentChoices: siblings ?? (help.visibleArguments(cmd) as unknown as Argument[]).flatMap((a) => a.argChoices ?? []),
    });
    const registered = subs.filter((s) => cmd.commands.includes(s));
    for (const s of subs) visit(s, `${path} ${s.name()}`, registered.includes(s) ? null : registered.map((r) => r.name()));
  };
  visit(program, program.name(), null);
  return nodes;
}

function optionNames(o: CompletionOption): string[] {
  return [o.short, o.long].filter((n): n is string => n !== null);
}

/** POSIX single quotes, usable in bash, zsh and case patterns. */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Identifier for the generated shell functions: "rdhpf" → "_rdhpf". */
function fnName(program: string): string {
  return `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
}

interface Tables {
  /** "path|word" → child path */
  transitions: Array<[string, string]>;
  /** "path|-x" for options that take a value */
  valued: string[];
  /** "path|-x" → choices, or null for file names */
  values: Array<[string, string[] | null]>;
}

function tables(nodes: CompletionNode[]): Tables {
  const t: Tables = { transitions: [], valued: [], values: [] };
  for (const n of nodes) {
    for (const s of n.subcommands) {
      for (const name of [s.name, ...s.aliases]) t.transitions.push([`${n.path}|${name}`, `${n.path} ${s.name}`]);
    }
    for (const o of n.options) {
      if (!o.takesValue) continue;
      for (const name of optionNames(o)) {
        t.valued.push(`${n.path}|${name}`);
        if (o.choices.length > 0) t.values.push([`${n.path}|${name}`, o.choices]);
        else if (o.files) t.values.push([`${n.path}|${name}`, null]);
      }
    }
  }
  return t;
}

/** The POSIX-sh-compatible helper functions shared by the bash and zsh scripts. */
function shHelpers(fn: string, nodes: CompletionNode[]): string {
  const t = tables(nodes);
  const lines: string[] = [];
  lines.push(`# ${fn}_next PATH WORD: the subcommand path WORD leads to, if any`);
  lines.push(`${fn}_next() {`, `  case "$1|$2" in`);
  for (const [key, to] of t.transitions) lines.push(`    ${sq(key)}) REPLY=${sq(to)}; return 0 ;;`);
  lines.push(`  esac`, `  return 1`, `}`);
  lines.push(`# ${fn}_valued PATH OPTION: does OPTION take a value`);
  lines.push(`${fn}_valued() {`, `  case "$1|$2" in`);
  if (t.valued.length > 0) lines.push(`    ${t.valued.map(sq).join("|")}) return 0 ;;`);
  lines.push(`  esac`, `  return 1`, `}`);
  lines.push(`# ${fn}_candidates PATH PREV CUR: sets REPLY_KIND (words|files|none) and REPLY_WORDS`);
  lines.push(`${fn}_candidates() {`, `  REPLY_KIND=words`, `  REPLY_WORDS=""`);
  lines.push(`  if ${fn}_valued "$1" "$2"; then`, `    case "$1|$2" in`);
  for (const [key, choices] of t.values) {
    lines.push(choices === null ? `      ${sq(key)}) REPLY_KIND=files ;;` : `      ${sq(key)}) REPLY_WORDS=${sq(choices.join(" "))} ;;`);
  }
  lines.push(`      *) REPLY_KIND=none ;;`, `    esac`, `    return 0`, `  fi`);
  lines.push(`  case "$1" in`);
  for (const n of nodes) {
    const opts = n.options.flatMap(optionNames).join(" ");
    const words = [...n.subcommands.map((s) => s.name), ...n.argumentChoices].join(" ");
    // Options when the word starts with "-" or nothing else fits here.
    lines.push(`    ${sq(n.path)}) case "$3" in -*) REPLY_WORDS=${sq(opts)} ;; *) REPLY_WORDS=${sq(words || opts)} ;; esac ;;`);
  }
  lines.push(`  esac`, `}`);
  lines.push(`# ${fn}_path WORD...: the command path the words lead to`);
  lines.push(`${fn}_path() {`);
  lines.push(`  local p=${sq(nodes[0]?.path ?? "")} skip=0 w`);
  lines.push(`  shift`);
  lines.push(`  for w in "$@"; do`);
  lines.push(`    if [ "$skip" = 1 ]; then skip=0; continue; fi`);
  lines.push(`    case "$w" in`);
  lines.push(`      --*=*) ;;`);
  lines.push(`      -*) if ${fn}_valued "$p" "$w"; then skip=1; fi ;;`);
  lines.push(`      *) if ${fn}_next "$p" "$w"; then p="$REPLY"; fi ;;`);
  lines.push(`    esac`);
  lines.push(`  done`);
  lines.push(`  REPLY="$p"`);
  lines.push(`}`);
  return lines.join("\n");
}

/** Bash script (bash 3.2 as shipped by macOS, and newer). */
export function bashCompletion(nodes: CompletionNode[]): string {
  const prog = nodes[0]?.path ?? "rdhpf";
  const fn = fnName(prog);
  return `# bash completion for ${prog}. Generated by \`${prog} completions bash\`; load with
#   eval "$(${prog} completions bash)"
# or save it as ~/.local/share/bash-completion/completions/${prog}
${shHelpers(fn, nodes)}
${fn}() {
  local cur prev line REPLY REPLY_KIND REPLY_WORDS
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # COMP_WORDBREAKS splits "--opt=val" into "--opt" "=" "val".
  if [ "$prev" = "=" ] && [ "$COMP_CWORD" -ge 2 ]; then
    prev="\${COMP_WORDS[COMP_CWORD-2]}"
  elif [ "$cur" = "=" ]; then
    prev="\${COMP_WORDS[COMP_CWORD-1]}"
    cur=""
  fi
  ${fn}_path "\${COMP_WORDS[@]:0:COMP_CWORD}"
  ${fn}_candidates "$REPLY" "$prev" "$cur"
  COMPREPLY=()
  case "$REPLY_KIND" in
    files)
      compopt -o filenames 2>/dev/null
      while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -f -- "$cur") ;;
    words)
      while IFS= read -r line; do COMPREPLY+=("$line"); done < <(compgen -W "$REPLY_WORDS" -- "$cur") ;;
  esac
  return 0
}
complete -F ${fn} ${prog}
`;
}

/** zsh script: autoloadable from $fpath as `_${"<prog>"}`, or sourced after compinit. */
export function zshCompletion(nodes: CompletionNode[]): string {
  const prog = nodes[0]?.path ?? "rdhpf";
  const fn = fnName(prog);
  const describe: string[] = [];
  for (const n of nodes) {
    const subs = n.subcommands.map((s) => sq(`${s.name}:${s.description}`)).join(" ");
    const opts = n.options.flatMap((o) => optionNames(o).map((name) => sq(`${name}:${firstLine(o.description)}`))).join(" ");
    const args = n.argumentChoices.map(sq).join(" ");
    describe.push(`    ${sq(n.path)}) subs=(${subs}); opts=(${opts}); args=(${args}) ;;`);
  }
  return `#compdef ${prog}
# zsh completion for ${prog}. Generated by \`${prog} completions zsh\`; save it as
# _${prog} in a directory of $fpath, or: source <(${prog} completions zsh) after compinit.
${shHelpers(fn, nodes)}
# ${fn}_describe PATH: sets subs, opts and args ("name:description") for PATH
${fn}_describe() {
  case "$1" in
${describe.join("\n")}
  esac
}
${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" REPLY REPLY_KIND REPLY_WORDS cmdpath
  local -a subs opts args
  if [[ "$cur" == --*=* ]]; then
    prev="\${cur%%=*}"
    compset -P '*='
    cur="\${cur#*=}"
  fi
  ${fn}_path "\${(@)words[1,CURRENT-1]}"
  cmdpath="$REPLY"
  ${fn}_candidates "$cmdpath" "$prev" "$cur"
  case "$REPLY_KIND" in
    files) _files ;;
    none) _message 'value' ;;
    words)
      if ${fn}_valued "$cmdpath" "$prev"; then
        compadd -- \${=REPLY_WORDS}
        return
      fi
      ${fn}_describe "$cmdpath"
      if [[ "$cur" == -* ]] || (( \${#subs} + \${#args} == 0 )); then
        _describe -t options 'option' opts
      else
        if (( \${#subs} )); then _describe -t commands 'command' subs; fi
        if (( \${#args} )); then compadd -- "\${args[@]}"; fi
      fi ;;
  esac
  return 0
}
if [[ "\${zsh_eval_context[-1]}" == loadautofunc ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${prog}
fi
`;
}

/** fish script: `${"<prog>"} completions fish > ~/.config/fish/completions/<prog>.fish`. */
export function fishCompletion(nodes: CompletionNode[]): string {
  const prog = nodes[0]?.path ?? "rdhpf";
  const fn = `_${fnName(prog)}`;
  const t = tables(nodes);
  const lines: string[] = [
    `# fish completion for ${prog}. Generated by \`${prog} completions fish\`; save it as`,
    `# ~/.config/fish/completions/${prog}.fish`,
    `function ${fn}_next`,
    `    switch "$argv[1]|$argv[2]"`,
    ...t.transitions.map(([key, to]) => `        case ${fishQuote(key)}\n            echo ${fishQuote(to)}`),
    `    end`,
    `end`,
    `function ${fn}_valued`,
    `    switch "$argv[1]|$argv[2]"`,
    ...(t.valued.length > 0 ? [`        case ${t.valued.map(fishQuote).join(" ")}`, `            return 0`] : []),
    `    end`,
    `    return 1`,
    `end`,
    `# the command path of the words before the cursor, e.g. "${prog} service install"`,
    `function ${fn}_path`,
    `    set -l p ${fishQuote(prog)}`,
    `    set -l skip 0`,
    `    for w in (commandline -opc)[2..-1]`,
    `        if test $skip = 1`,
    `            set skip 0`,
    `            continue`,
    `        end`,
    `        if string match -q -- '--*=*' $w`,
    `            continue`,
    `        else if string match -q -- '-*' $w`,
    `            ${fn}_valued $p $w; and set skip 1`,
    `        else`,
    `            set -l next (${fn}_next $p $w)`,
    `            test -n "$next"; and set p $next`,
    `        end`,
    `    end`,
    `    echo $p`,
    `end`,
    `complete -c ${prog} -f`,
  ];
  for (const n of nodes) {
    const cond = fishQuote(`test (${fn}_path) = ${fishQuote(n.path)}`);
    for (const s of n.subcommands) lines.push(`complete -c ${prog} -n ${cond} -a ${fishQuote(s.name)} -d ${fishQuote(s.description)}`);
    if (n.argumentChoices.length > 0) lines.push(`complete -c ${prog} -n ${cond} -a ${fishQuote(n.argumentChoices.join(" "))}`);
    for (const o of n.options) {
      const flags = [o.short ? `-s ${o.short.replace(/^-/, "")}` : "", o.long ? `-l ${o.long.replace(/^--/, "")}` : ""].filter(Boolean).join(" ");
      const value = !o.takesValue ? "" : o.choices.length > 0 ? ` -x -a ${fishQuote(o.choices.join(" "))}` : o.files ? " -r -F" : " -x";
      lines.push(`complete -c ${prog} -n ${cond} ${flags}${value} -d ${fishQuote(firstLine(o.description))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

const SHELLS = ["bash", "zsh", "fish"] as const;

/** `rdhpf completions <shell>`; `getProgram` returns the root program (built after this command). */
export function completionsCommand(getProgram: () => Command): Command {
  return new Command("completions")
    .description("print a shell completion script for bash, zsh or fish")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(SHELLS))
    .addHelpText("after", `
Examples:
  eval "$(rdhpf completions bash)"                      # bash, this shell only
  rdhpf completions bash > ~/.local/share/bash-completion/completions/rdhpf
  rdhpf completions zsh > "\${fpath[1]}/_rdhpf"          # then restart zsh
  rdhpf completions fish > ~/.config/fish/completions/rdhpf.fish`)
    .action((shell) => {
      const nodes = completionModel(getProgram());
      const script = shell === "bash" ? bashCompletion(nodes) : shell === "zsh" ? zshCompletion(nodes) : fishCompletion(nodes);
      process.stdout.write(script);
    }) as unknown as Command;
}
