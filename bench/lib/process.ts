/** Running another program from a bench script and keeping what it wrote. */
import { spawn } from 'node:child_process';

export interface ProcessOutput {
  /** The exit code; -1 when a signal ended the process. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` without stdin and resolves, once it has exited, with its exit code and output. */
export function runProcess(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<ProcessOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
