// Entry of the `npm run fuzz` worker thread: registers tsx in this thread (workers do not
// inherit the parent's loader), then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
