/** How a CLI command says it failed: the message is one line for stderr, the code is the exit status. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
  }
}

/** Exit status for bad input (files, packets, arguments): 2, as the contract says. */
export const EXIT_BAD_INPUT = 2;
