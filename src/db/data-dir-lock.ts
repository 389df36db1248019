/**
 * PGlite does not lock its folder, and two processes writing one folder lose data. The gateway
 * holds the folder by listening on a Unix socket in it, `gateway.lock`: while the process lives,
 * a connection to that socket is answered (with the holder's pid); when it dies, however it dies,
 * the kernel closes the socket and a connection is refused, so the next process knows the lock is
 * free. No pid is trusted: a restarted container whose new process has the old pid, or a pid
 * reused by an unrelated process, cannot keep the folder locked.
 *
 * Taking the socket over (removing a dead one, binding a new one) happens under a short-lived
 * marker file created exclusively, so two processes never both remove and bind. A marker is held
 * for milliseconds; one older than MARKER_STALE_MS was left by a process that died in between and
 * is removed.
 */
import { closeSync, openSync, statSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';

export interface DataDirLock {
  release(): void;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number | null,
  ) {
    super(
      `the data folder ${dataDir} is in use by another gateway process` +
        `${pid === null ? '' : ` (pid ${pid})`}; ` +
        'stop it, or give this one its own DATA_DIR or a DATABASE_URL',
    );
    this.name = 'DataDirLockedError';
  }
}

const MARKER_STALE_MS = 5_000;
/** Room in a socket address (sockaddr_un holds 108 bytes on Linux, 104 on macOS). */
const MAX_SOCKET_PATH = 103;

export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const file = path.join(dataDir, 'gateway.lock');
  const address = socketAddress(file);
  const marker = `${file}.taking`;
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!takeMarker(marker)) {
      await sleep(10);
      continue;
    }
    try {
      const server = await listen(address);
      if (server) return held(server, file);
      const holder = await probe(address);
      if (holder.alive) throw new DataDirLockedError(dataDir, holder.pid);
      // Nobody answers: the socket (or an old lock file) was left by a process that is gone.
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
      const taken = await listen(address);
      if (taken) return held(taken, file);
    } finally {
      try {
        unlinkSync(marker);
      } catch {
        // removed as stale by another process after a long pause of this one
      }
    }
  }
  throw new Error(`could not lock the data folder ${dataDir}`);
}

function held(server: Server, file: string): DataDirLock {
  // The lock must not keep the process alive on its own.
  server.unref();
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      server.close();
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    },
  };
}

/** Binds and listens; null when the address is taken. */
function listen(address: string): Promise<Server | null> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => {
      socket.on('error', () => {}); // a prober that hung up early
      socket.end(String(process.pid));
    });
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(null);
      else reject(error);
    });
    server.listen(address, () => resolve(server));
  });
}

/** Whether a live process answers at the address, and its pid. */
function probe(address: string): Promise<{ alive: boolean; pid: number | null }> {
  return new Promise((resolve) => {
    const socket = connect(address);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.once('end', () => {
      const pid = Number.parseInt(data, 10);
      resolve({ alive: true, pid: Number.isSafeInteger(pid) ? pid : null });
    });
    socket.once('error', () => resolve({ alive: false, pid: null }));
    // A holder that accepts but never answers (stopped in a debugger) still holds the folder.
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve({ alive: true, pid: null });
    });
  });
}

function takeMarker(marker: string): boolean {
  try {
    closeSync(openSync(marker, 'wx'));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  try {
    if (Date.now() - statSync(marker).mtimeMs > MARKER_STALE_MS) unlinkSync(marker);
  } catch {
    // removed meanwhile
  }
  return false;
}

/** The socket's address: the path, or the same path relative to the working folder if shorter. */
function socketAddress(file: string): string {
  const relative = path.relative(process.cwd(), file);
  const address = relative.length < file.length ? `./${relative}` : file;
  if (Buffer.byteLength(address) > MAX_SOCKET_PATH) {
    throw new Error(
      `the data folder path is too long for its lock socket (${file}); use a shorter DATA_DIR`,
    );
  }
  return address;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
