// Route declaration helper: every route is declared once with its JSON schemas,
// summary and documented responses; the same table registers it on Fastify and
// generates the OpenAPI 3.1 document (GET /openapi.json).
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';

export interface AuthUser { userId: string; username: string; tokenHash: string }

declare module 'fastify' {
  interface FastifyContextConfig { auth?: boolean }
  interface FastifyRequest { user: AuthUser | undefined }
}

export interface RouteDef {
  method: HTTPMethods;
  url: string;
  summary: string;
  tag: string;
  auth: boolean;
  body?: object;
  params?: object;
  querystring?: object;
  /** status -> description */
  responses: Record<number, string>;
  handler(req: FastifyRequest, reply: FastifyReply): Promise<unknown>;
}

export class RouteTable {
  readonly defs: RouteDef[] = [];

  add(app: FastifyInstance, def: RouteDef): void {
    this.defs.push(def);
    app.route({
      method: def.method, url: def.url, config: { auth: def.auth },
      schema: { ...(def.body ? { body: def.body } : {}), ...(def.params ? { params: def.params } : {}), ...(def.querystring ? { querystring: def.querystring } : {}) },
      handler: def.handler,
    });
  }

  openapi(title: string, version: string): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const d of this.defs) {
      const path = d.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const params = d.params as { properties?: Record<string, object> } | undefined;
      const query = d.querystring as { properties?: Record<string, object>; required?: string[] } | undefined;
      const parameters = [
        ...Object.entries(params?.properties ?? {}).map(([name, schema]) => ({ name, in: 'path', required: true, schema })),
        ...Object.entries(query?.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: query?.required?.includes(name) ?? false, schema })),
      ];
      const op: Record<string, unknown> = {
        summary: d.summary, tags: [d.tag],
        responses: Object.fromEntries(Object.entries(d.responses).map(([code, description]) => [code, { description }])),
      };
      if (parameters.length) op.parameters = parameters;
      if (d.body) op.requestBody = { required: true, content: { 'application/json': { schema: d.body } } };
      if (d.auth) op.security = [{ bearer: [] }];
      (paths[path] ??= {})[d.method.toLowerCase()] = op;
    }
    return {
      openapi: '3.1.0',
      info: { title, version, description: 'tincan directory: accounts, devices, contacts, presence, supernodes, rendezvous, relay tickets. Push channel: GET /v1/push (WebSocket). See docs/protocol/directory.md.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'opaque token from POST /v1/sessions' } } },
      paths,
    };
  }
}
