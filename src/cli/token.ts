import type { Command } from 'commander';
import { SignJWT } from 'jose';
import { EriError } from '../errors.js';
import { parseScopes } from '../server/auth.js';
import { positiveInt } from './options.js';

/** `eri token`: mint an HS256 token for this server's scopes (for operators, scripts and tests). */

export async function mintToken(o: {
  secret: string;
  scope: string;
  subject?: string;
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
}): Promise<string> {
  if (o.secret.length < 32)
    throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'the secret must have at least 32 characters');
  const scopes = parseScopes(o.scope);
  if (scopes.length === 0) throw new EriError('ERI_ERR_INVALID_ARGUMENT', 'give at least one scope');
  let jwt = new SignJWT({ scope: o.scope.trim().split(/\s+/).join(' ') })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(`${o.ttlSeconds}s`);
  if (o.subject) jwt = jwt.setSubject(o.subject);
  if (o.issuer) jwt = jwt.setIssuer(o.issuer);
  if (o.audience) jwt = jwt.setAudience(o.audience);
  return jwt.sign(new TextEncoder().encode(o.secret));
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('mint an HS256 token (signed with $ERI_JWT_SECRET) granting scopes')
    .requiredOption(
      '--scope <scopes>',
      'space-separated: publish:<room>[/<session>] subscribe:<room>[/<session>] publish:* subscribe:* metrics admin',
    )
    .option('--subject <name>', 'who the token is for (the sub claim)')
    .option('--ttl <seconds>', 'lifetime', positiveInt, 3600)
    .action(async (o: { scope: string; subject?: string; ttl: number }) => {
      const secret = process.env.ERI_JWT_SECRET;
      if (!secret)
        throw new EriError(
          'ERI_ERR_INVALID_ARGUMENT',
          'set ERI_JWT_SECRET to the secret the server verifies with',
        );
      console.log(
        await mintToken({
          secret,
          scope: o.scope,
          ttlSeconds: o.ttl,
          ...(o.subject ? { subject: o.subject } : {}),
          ...(process.env.ERI_JWT_ISSUER ? { issuer: process.env.ERI_JWT_ISSUER } : {}),
          ...(process.env.ERI_JWT_AUDIENCE ? { audience: process.env.ERI_JWT_AUDIENCE } : {}),
        }),
      );
    });
}
