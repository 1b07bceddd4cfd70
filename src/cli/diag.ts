import type { Command } from 'commander';

/** Filled in by the diagnostics commit. */
export function diagCommand(_cmd: Command, _run: unknown): void {}
