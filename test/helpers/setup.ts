import 'reflect-metadata';

import { afterAll } from 'vitest';

import { lintReport } from './statement-recorder.js';

// Every statement the file sent must run on Citus as well (citus-lint.ts).
afterAll(() => {
  const report = lintReport();
  if (report) throw new Error(report);
});
