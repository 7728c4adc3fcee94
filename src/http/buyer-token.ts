// Minting buyer tokens (HS256 JWTs) for the crowds of the simulator and the tests. Synchronous on purpose:
// autocannon's setupRequest cannot wait for a promise. The service verifies them with jose (guards.ts), so a
// mistake here shows as 401s, not as silently accepted tokens.
import { createHmac } from 'node:crypto';

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

export function mintBuyerToken(secret: string, userId: string, ttlSec = 3600, nowSec = nowSeconds()): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ sub: userId, iat: nowSec, exp: nowSec + ttlSec }));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
