/**
 * The normalized view of a remote container that the rest of rdhpf consumes.
 * The Engine API payloads (see `schemas.ts`) are mapped to this shape once, at
 * the edge, so that the forwarding core never sees raw API JSON.
 *
 * @module
 */
import { z } from "zod";
import { PortSchema } from "../port.ts";

/** One binding Docker actually made (`Ports` of `/containers/json`). */
export const PublishedPortSchema = z.object({
  /** Port inside the container, e.g. 80. */
  privatePort: PortSchema,
  /** Port Docker bound on the remote host; for `-P` the one it assigned. */
  publicPort: PortSchema,
  /** Address Docker bound on the remote host: "0.0.0.0", "::", "127.0.0.1", ... */
  hostIp: z.string(),
  protocol: z.enum(["tcp", "udp", "sctp"]),
});
export type PublishedPort = z.infer<typeof PublishedPortSchema>;

/** A running container and the ports it publishes. */
export const ObservedContainerSchema = z.object({
  id: z.string().min(1),
  /** Name without the leading "/". */
  name: z.string(),
  labels: z.record(z.string(), z.string()),
  /** Unix seconds; "most recently started wins" on a local port clash. */
  createdS: z.number(),
  ports: z.array(PublishedPortSchema),
});
export type ObservedContainer = z.infer<typeof ObservedContainerSchema>;
