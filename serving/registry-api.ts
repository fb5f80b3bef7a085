// The embedded schema registry, readable over the Confluent REST API, so that any Confluent client
// (confluent-kafka, kcat with Avro, Kafka Connect...) can decode darkroom's topics given this URL:
// `<darkroom>/registry`. Read-only on purpose: schemas are registered by darkroom's own serde.
import { Router } from 'express';
import type { Client } from '@confluentinc/schemaregistry';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Confluent's error shape: {"error_code": 40403, "message": "..."} */
function notFound(res: import('express').Response, code: number, message: string) {
  res.status(404).type(CONTENT_TYPE).send(JSON.stringify({ error_code: code, message }));
}

export function registryApiRouter(registry: Client): Router {
  const router = Router();
  const send = (res: import('express').Response, body: unknown) => res.type(CONTENT_TYPE).send(JSON.stringify(body));

  router.get('/registry/schemas/ids/:id', async (req, res, next) => {
    const id = Number(req.params.id);
    try {
      const info = await registry.getBySubjectAndId(String(req.query.subject ?? ''), id);
      send(res, { schemaType: info.schemaType ?? 'AVRO', schema: info.schema });
    } catch (error) {
      if (Number.isInteger(id)) return notFound(res, 40403, `Schema ${req.params.id} not found`);
      next(error);
    }
  });
  router.get('/registry/subjects', async (_req, res, next) => {
    try { send(res, await registry.getAllSubjects()); } catch (error) { next(error); }
  });
  router.get('/registry/subjects/:subject/versions', async (req, res) => {
    try { send(res, await registry.getAllVersions(req.params.subject)); } catch { notFound(res, 40401, `Subject '${req.params.subject}' not found.`); }
  });
  router.get('/registry/subjects/:subject/versions/:version', async (req, res) => {
    try {
      const { subject, version } = req.params;
      const meta = version === 'latest'
        ? await registry.getLatestSchemaMetadata(subject)
        : await registry.getSchemaMetadata(subject, Number(version), false);
      send(res, { subject, version: meta.version, id: meta.id, schemaType: meta.schemaType ?? 'AVRO', schema: meta.schema });
    } catch {
      notFound(res, 40402, `Version ${req.params.version} not found.`);
    }
  });
  router.get('/registry/config', async (_req, res, next) => {
    try { send(res, { compatibilityLevel: await registry.getDefaultCompatibility() }); } catch (error) { next(error); }
  });
  return router;
}
