/**
 * A leaf worker thread: makes key pairs and signs certificates, and writes a batch's files, synchronously — so a
 * bulk issue uses every core and the thread that serves a UI or sockets never waits on a key, a signature or a
 * write. It loads node:crypto and the forge-free DER code only.
 */
import { execFileSync } from 'node:child_process';
import { parentPort } from 'node:worker_threads';
import { generateP256Sync, generateRsaSync } from './keys.ts';
import { buildLeafSync } from './leaf-der.ts';
import type { FromLeafWorker, MadeLeaf, ToLeafWorker } from './leaf-worker-protocol.ts';
import { renameAllSync, stageFilesSync } from './stage-files.ts';

const port = parentPort;
if (!port) throw new Error('pki/leaf-worker.ts must run in a worker thread');

function make(message: Extract<ToLeafWorker, { type: 'make' }>): MadeLeaf[] {
  return message.jobs.map((job) => {
    const keys = job.keyType === 'ec' ? generateP256Sync() : generateRsaSync();
    const { pem } = buildLeafSync(
      message.prototypes[job.prototype]!,
      message.issuerKey,
      job.commonName,
      keys.spkiDer,
      new Date(job.notBefore),
      new Date(job.notAfter),
      job.serialHex,
    );
    return { certPem: pem, keyPem: keys.privateKeyPem, keyDescription: keys.description };
  });
}

port.on('message', (message: ToLeafWorker) => {
  let reply: FromLeafWorker;
  try {
    if (message.type === 'make') reply = { type: 'made', request: message.request, leaves: make(message) };
    else if (message.type === 'stage')
      reply = { type: 'staged', request: message.request, temps: stageFilesSync(message.files) };
    else if (message.type === 'rename') {
      renameAllSync(message.renames);
      reply = { type: 'renamed', request: message.request };
    } else {
      // Node has no binding for syncfs(2); coreutils' `sync -f` is that call. Started from this thread because
      // starting a process copies the parent's page tables: ~100 ms on a busy machine, never on the event loop.
      execFileSync('sync', ['-f', message.path], { stdio: 'ignore', timeout: 120_000 });
      reply = { type: 'synced', request: message.request };
    }
  } catch (error) {
    const { message: text, code } = error as NodeJS.ErrnoException;
    reply = { type: 'failed', request: message.request, message: text, ...(code && { code }) };
  }
  port.postMessage(reply);
});
