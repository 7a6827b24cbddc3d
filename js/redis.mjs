import redis from './redis.js';

export const { createAdapter, RedisAdapter } = redis;

export default redis;
