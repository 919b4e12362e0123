import type { ZodType } from 'zod';
import {
  type Blob,
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  type GlobalPosition,
  isEventStoreError,
} from '../event-store/event-store.js';

export interface DomainEvent {
  readonly type: string;
  readonly data: unknown;
}

export interface Decider<Command, Event extends DomainEvent, State> {
  readonly decide: (command: Command, state: State) => Event[];
  readonly evolve: (state: State, event: Event) => State;
  readonly initialState: State;
  /** The zod schema of each event type: every event is checked before it is stored. */
  readonly schemas: Readonly<Record<string, ZodType>>;
}

export interface HandleOptions<Event, State = unknown> {
  readonly newEventId: (event: Event, index: number) => string;
  readonly blobs?: readonly Blob[];
  readonly metadata?: EventMetadata;
  /** Concurrency conflicts are retried from a fresh read this many times. */
  readonly retries?: number;
  /** State the caller just loaded, to save the first read; a conflict reloads it. */
  readonly loaded?: { readonly state: State; readonly revision: ExpectedRevision };
}

export interface HandleResult<Event, State> {
  readonly events: readonly Event[];
  readonly state: State;
  /** Where the events landed in the log; undefined when the command decided nothing. */
  readonly position?: GlobalPosition;
}

/** Read, fold, decide, append at the revision read: the one way commands change streams. */
export const loadState = async <Event extends DomainEvent, State>(
  store: EventStore,
  streamName: string,
  decider: Pick<Decider<unknown, Event, State>, 'evolve' | 'initialState'>,
): Promise<{ state: State; revision: ExpectedRevision }> => {
  let state = decider.initialState;
  let revision: ExpectedRevision = 'no_stream';
  for await (const e of store.readStream(streamName)) {
    state = decider.evolve(state, { type: e.type, data: e.data } as Event);
    revision = e.revision;
  }
  return { state, revision };
};

export const handleCommand = async <Command, Event extends DomainEvent, State>(
  store: EventStore,
  streamName: string,
  decider: Decider<Command, Event, State>,
  command: Command,
  options: HandleOptions<Event, State>,
): Promise<HandleResult<Event, State>> => {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const { state, revision } =
      attempt === 0 && options.loaded
        ? options.loaded
        : await loadState(store, streamName, decider);
    const events = decider.decide(command, state);
    if (events.length === 0) return { events, state };
    const newEvents = events.map((event, i) => {
      const schema = decider.schemas[event.type];
      if (!schema) throw new Error(`no schema for event type ${event.type}`);
      return {
        eventId: options.newEventId(event, i),
        type: event.type,
        data: schema.parse(event.data),
        ...(options.metadata ? { metadata: options.metadata } : {}),
      };
    });
    try {
      const appended = await store.appendToStream(streamName, newEvents, {
        expectedRevision: revision,
        ...(options.blobs ? { blobs: options.blobs } : {}),
      });
      return { events, state: events.reduce(decider.evolve, state), position: appended.position };
    } catch (error) {
      if (attempt < retries && isEventStoreError(error, 'WrongExpectedRevision')) continue;
      throw error;
    }
  }
};
