/**
 * One `GET /containers/{id}/json` per container at a time, shared. A
 * container start through rdhpf's socket is looked at twice at once: by the
 * start hold (start_hold.ts), as soon as the answer to the start arrives,
 * and by the reconcile of the start event, a moment later. Two requests in
 * parallel cost more than one (the second needs another connection through
 * the SSH link, and holds measured ~5 ms instead of ~3 ms for the hold's
 * inspect when they overlapped), and the hold then waits for the slower one.
 * So the later asker joins the request in flight, when that request was
 * sent after what the asker must see (its event arrived, its start was
 * answered); otherwise it sends its own.
 *
 * @module
 */
import type { ObservedContainer } from "../docker/mod.ts";
import { monotonicNowMs } from "./monotonic_clock.ts";

/** What can inspect a container (the link's EngineClient). */
export interface ContainerInspector {
  inspectContainer(ref: string): Promise<ObservedContainer | null>;
}

/** One inspect: when it was sent (its answer shows the container then or later), and the answer. */
export interface InspectFlight {
  sentMs: number;
  answer: Promise<ObservedContainer | null>;
}

export class InspectFlights {
  readonly #inFlight = new Map<string, InspectFlight & { inspector: ContainerInspector }>();

  /**
   * An inspect of `ref` (an id or name) through `inspector` whose answer
   * shows the container as it was after `notBeforeMs`: the one in flight if
   * it was sent later than that (in the same millisecond is not later),
   * else a new one sent now.
   */
  inspect(inspector: ContainerInspector, ref: string, notBeforeMs: number, nowMs = monotonicNowMs()): InspectFlight {
    const current = this.#inFlight.get(ref);
    if (current && current.inspector === inspector && current.sentMs > notBeforeMs) return current;
    const flight = { inspector, sentMs: nowMs, answer: inspector.inspectContainer(ref) };
    this.#inFlight.set(ref, flight);
    const landed = () => {
      if (this.#inFlight.get(ref) === flight) this.#inFlight.delete(ref);
    };
    flight.answer.then(landed, landed);
    return flight;
  }

  /** Inspects in flight now. */
  get size(): number {
    return this.#inFlight.size;
  }
}
