/**
 * zod schemas for the Docker Engine API payloads rdhpf reads (API 1.41 =
 * Docker 20.10 up to current). Only the fields rdhpf uses are declared;
 * unknown fields are accepted and dropped, because the API is an open schema
 * that grows with every release. Where the Engine omits or nulls a field
 * (no published ports, no labels, older event fields) the schema says so
 * instead of failing the whole payload.
 *
 * @module
 */
import { z } from "zod";

/** `GET /version` (unversioned, so it works before the API version is known). */
export const VersionSchema = z.object({
  Version: z.string(),
  /** Highest API version the server speaks, e.g. "1.41". */
  ApiVersion: z.string().regex(/^\d+\.\d+$/),
  /** Lowest API version the server accepts; absent on very old engines. */
  MinAPIVersion: z.string().regex(/^\d+\.\d+$/).optional(),
  Os: z.string().optional(),
  Arch: z.string().optional(),
});
export type VersionPayload = z.infer<typeof VersionSchema>;

/** Container labels; the Engine sends `null` for "none". */
const LabelsSchema = z.record(z.string(), z.string()).nullish();

/**
 * One entry of `Ports` in `/containers/json`. `PublicPort` and `IP` are absent
 * for a port that is exposed but not published; `IP` is absent on some older
 * engines for published ports too.
 */
export const SummaryPortSchema = z.object({
  IP: z.string().optional(),
  PrivatePort: z.number().int(),
  PublicPort: z.number().int().optional(),
  /** "tcp", "udp" or "sctp". */
  Type: z.string(),
});
export type SummaryPort = z.infer<typeof SummaryPortSchema>;

/** One item of `GET /containers/json`. */
export const ContainerSummarySchema = z.object({
  Id: z.string().min(1),
  /** Canonical name first ("/web"); legacy links add "/other/alias" names. */
  Names: z.array(z.string()).nullish(),
  Labels: LabelsSchema,
  /** Unix seconds. */
  Created: z.number(),
  /** "running", "paused", ...; absent on engines older than API 1.23. */
  State: z.string().optional(),
  Ports: z.array(SummaryPortSchema).nullish(),
});
export type ContainerSummary = z.infer<typeof ContainerSummarySchema>;

/** A binding in `NetworkSettings.Ports` of `/containers/{id}/json`. */
export const PortBindingSchema = z.object({
  HostIp: z.string().optional(),
  /** A decimal string, e.g. "5432". */
  HostPort: z.string().optional(),
});
export type PortBinding = z.infer<typeof PortBindingSchema>;

/** `GET /containers/{id}/json`. */
export const ContainerInspectSchema = z.object({
  Id: z.string().min(1),
  /** With a leading "/". */
  Name: z.string().optional(),
  /** RFC 3339 with nanoseconds. */
  Created: z.string().optional(),
  State: z.object({
    Running: z.boolean(),
    StartedAt: z.string().optional(),
  }),
  Config: z.object({ Labels: LabelsSchema }).nullish(),
  NetworkSettings: z
    .object({
      /** Keyed "80/tcp"; `null` value = exposed but not published. */
      Ports: z.record(z.string(), z.array(PortBindingSchema).nullable()).nullish(),
    })
    .nullish(),
});
export type ContainerInspect = z.infer<typeof ContainerInspectSchema>;

/**
 * One message of `GET /events`. `Type`/`Action`/`Actor` exist since API 1.22;
 * `status`/`id` are the older spelling, still sent up to API 1.51 and dropped
 * in 1.52. `Action` carries details for some events ("exec_start: sh -c ...",
 * "health_status: healthy").
 */
export const DockerEventSchema = z
  .object({
    Type: z.string().optional(),
    Action: z.string().optional(),
    Actor: z
      .object({
        ID: z.string().optional(),
        Attributes: z.record(z.string(), z.string()).nullish(),
      })
      .optional(),
    /** Unix seconds. */
    time: z.number().optional(),
    /** Unix nanoseconds; beyond 2^53, so only approximately exact as a JS number. */
    timeNano: z.number().optional(),
    status: z.string().optional(),
    id: z.string().optional(),
  })
  .refine((e) => e.Action !== undefined || e.status !== undefined, "event has neither Action nor status");
export type DockerEvent = z.infer<typeof DockerEventSchema>;

/** Error body of the Engine API: `{"message": "..."}` (sometimes plain text). */
export const ErrorBodySchema = z.object({ message: z.string() });
