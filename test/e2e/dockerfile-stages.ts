/** One instruction of a Dockerfile: `COPY --from=build /src/dist dist` is op COPY, args as written. */
export interface DockerInstruction {
  readonly op: string;
  readonly args: string;
}

/** One `FROM … [AS name]` stage and its instructions, in order. */
export interface DockerStage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: readonly DockerInstruction[];
}

/**
 * The stages of a Dockerfile's text: comments and blank lines dropped, `\` continuations joined,
 * instructions upper-cased. Enough for the files this project writes (no heredocs, no parser
 * directives other than comments).
 */
export function dockerfileStages(text: string): DockerStage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    lines.push(pending + line);
    pending = '';
  }
  const stages: { base: string; name: string | undefined; instructions: DockerInstruction[] }[] = [];
  for (const line of lines) {
    const m = /^(\S+)\s*(.*)$/.exec(line)!;
    const op = m[1].toUpperCase();
    const args = m[2];
    if (op === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`cannot read FROM ${args}`);
      stages.push({ base: from[1], name: from[2], instructions: [] });
    } else if (stages.length === 0) {
      if (op !== 'ARG') throw new Error(`${op} before the first FROM`);
    } else {
      stages[stages.length - 1].instructions.push({ op, args });
    }
  }
  return stages;
}

/** The argument of an exec-form ENTRYPOINT or CMD (a JSON array); throws for the shell form. */
export function execForm(instruction: DockerInstruction): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(instruction.args);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) {
    throw new Error(
      `${instruction.op} ${instruction.args}: not the exec form (a shell would be PID 1 and swallow SIGTERM)`,
    );
  }
  return parsed as string[];
}

/** The last instruction `op` of a stage (the one that takes effect), if any. */
export function lastOf(stage: DockerStage, op: string): DockerInstruction | undefined {
  return stage.instructions.filter((i) => i.op === op).pop();
}

/** `COPY [--from=X] src... dest` as sources, destination and the stage copied from. */
export function copyParts(instruction: DockerInstruction): {
  from?: string;
  sources: string[];
  dest: string;
} {
  const words = instruction.args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
  }
  const dest = words.pop();
  if (dest === undefined || words.length === 0) throw new Error(`cannot read COPY ${instruction.args}`);
  return { from, sources: words, dest };
}
