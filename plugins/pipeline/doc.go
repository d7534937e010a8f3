// Package pipeline is the contract between the esa_* components of one stream — inputs, buffer,
// processors and outputs — about what travels with a record besides its bytes: flush markers (the
// empty message that makes a batch policy flush; NewFlushMarker, IsFlushMarker, FlushCheck), the
// metadata keys one component sets and another reads (esa_flush, esa_event_time, the bundle keys
// esa_records / esa_first_time / esa_last_time, and MessageTime that reads them).
//
// It holds no destination logic (that is package delivery) and no JSON (package record): every
// esa_* component imports it, so it imports only record and outcome.
package pipeline
