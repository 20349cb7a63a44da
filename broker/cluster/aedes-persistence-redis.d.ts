// aedes-persistence-redis ships no types: the part we use. Its instance is what aedes' `persistence` option takes.
declare module 'aedes-persistence-redis' {
  import type { Redis, RedisOptions } from 'ioredis';

  interface AedesPersistenceRedisOptions extends RedisOptions {
    /** An ioredis connection to use instead of making one (we watch its health). */
    conn?: Redis;
    /** Offline QoS 1/2 messages delivered per CONNECT (default 1000). */
    maxSessionDelivery?: number;
  }

  interface AedesPersistenceRedis {
    destroy(): Promise<void>;
  }

  export default function aedesPersistenceRedis(
    options?: AedesPersistenceRedisOptions,
  ): AedesPersistenceRedis;
}
