// Package pipeline is the contract between the esa_* components of one stream — inputs, buffer,
// processors and outputs — about what travels with a record besides its bytes, and the conventions
// every processor shares:
//
//   - flush markers (flush.go): the empty message inputs send so that an output's batch policy flushes
//     (NewFlushMarker, IsFlushMarker, FlushCheck, WithFlushCheck, WithoutMarkers, WriteWithoutMarkers);
//   - the metadata keys one component sets and another reads: MetaFlush (flush.go), and in meta.go
//     MetaEventTime, the bundle keys MetaRecords / MetaFirstTime / MetaLastTime, MetaInvalidReason,
//     and MessageTime, which reads a delivered record's event time; in times.go MetaEventTimes, a
//     bundle's per-record event times (TimePacker, BundleTimes);
//   - checked-record marks in the message context (checked.go: Marker, MarkChecked, Checked,
//     CheckedIndex, Release), so a record is validated once per stream;
//   - how an input received a batch (received.go: Received, WithReceived, ReceivedOf), so the disk
//     buffer stores a gzip body as it came instead of compressing its records again;
//   - invalid records (invalid.go: InvalidHandler, MetricInvalid), the `task` field of every esa_*
//     component (TaskField, UnnamedTask) and the processors' `route_invalid` (RouteInvalidField,
//     ParseTaskFields).
//
// How outputs deliver (retries, metrics, batch policies, nack tags) is package delivery, which builds
// on this one; the JSON of a record is package record, which knows nothing of Benthos. pipeline
// imports only record and outcome, so every esa_* component can import it.
package pipeline
