/** The file watcher (chokidar), for `hotgen dev` only. See deps-config.ts for the split. */
import chokidar from 'chokidar';

export { chokidar };
