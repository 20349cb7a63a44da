/**
 * `--redis redis://[user:password@]host:port[/db]` → ioredis options. The URL is checked here, once, so that a typo
 * is a clear `ERROR:` at start and not an endless reconnect loop; the password never appears in messages.
 */
import type { RedisOptions } from 'ioredis';
import { UserError } from '../../core/user-error.ts';

export interface RedisTarget {
  readonly options: RedisOptions;
  /** `redis://host:port/db`, without credentials: what logs and the audit may say. */
  readonly display: string;
}

export function parseRedisUrl(text: string): RedisTarget {
  const fail = (why: string) =>
    new UserError('cannot use --redis', why, 'Give it as redis://HOST:PORT (e.g. redis://127.0.0.1:6379).');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw fail(`'${text}' is not a URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw fail(`the scheme must be redis:// or rediss:// (got ${url.protocol}//)`);
  }
  if (!url.hostname) throw fail('the URL has no host');
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (!/^\d{0,2}$/.test(dbText)) throw fail(`the database must be a number (got '/${dbText}')`);
  const db = dbText === '' ? 0 : Number(dbText);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(url.username && { username: decodeURIComponent(url.username) }),
    ...(url.password && { password: decodeURIComponent(url.password) }),
    ...(url.protocol === 'rediss:' && { tls: { servername: host } }),
  };
  return { options, display: `${url.protocol}//${url.host}/${db}` };
}
