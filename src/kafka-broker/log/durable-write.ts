import fs from 'node:fs';
import path from 'node:path';

/** Makes a file's creation or rename durable: the directory entry lives in the parent directory. */
export function syncDirectory(directory: string): void {
  const fd = fs.openSync(directory, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces a file so that a crash leaves either the old or the new content (write, sync, rename, sync dir). */
export function replaceFileDurably(filePath: string, content: string): void {
  const temporary = `${filePath}.tmp`;
  const fd = fs.openSync(temporary, 'w');
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, filePath);
  syncDirectory(path.dirname(filePath));
}
