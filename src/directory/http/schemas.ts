// JSON schemas shared by the routes. Contract: every object forbids unknown
// properties, every string has a length bound, every array a size bound, so a
// hostile body is rejected with 400 naming the field before any handler runs.
export const username = { type: 'string', minLength: 3, maxLength: 32, pattern: '^[a-z0-9][a-z0-9_.-]{2,31}$', description: 'lowercase letters, digits, _ . -; 3-32 chars' } as const;
export const password = { type: 'string', minLength: 8, maxLength: 256 } as const;
export const id = { type: 'string', pattern: '^[0-9a-f]{32}$', description: '16 bytes, lowercase hex' } as const;
export const key32 = { type: 'string', pattern: '^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$', description: '32-byte key, base64url without padding' } as const;
export const ipAddress = { type: 'string', minLength: 2, maxLength: 45, pattern: '^[0-9A-Fa-f:.]+$', description: 'IPv4 or IPv6 literal' } as const;
export const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const natKind = { type: 'string', enum: ['endpoint-independent', 'address-dependent', 'address-and-port-dependent', 'unknown'] } as const;

export const endpoint = { type: 'object', additionalProperties: false, required: ['address', 'port'], properties: { address: ipAddress, port } } as const;
export const candidate = {
  type: 'object', additionalProperties: false, required: ['kind', 'address', 'port'],
  properties: { kind: { type: 'string', enum: ['host', 'srflx', 'relay'] }, address: ipAddress, port },
} as const;
export const nat = { type: 'object', additionalProperties: false, required: ['mapping', 'filtering'], properties: { mapping: natKind, filtering: natKind } } as const;

export const obj = (properties: Record<string, object>, required: string[]) => ({ type: 'object', additionalProperties: false, required, properties });
export const params = (properties: Record<string, object>) => obj(properties, Object.keys(properties));
