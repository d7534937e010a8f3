// Package docscheck holds the tests that keep the documentation in docs/ honest: the task examples
// it marks load (or fail with the message it shows), the JSON Schema of the task definition accepts
// the repository's examples and names every key of the task model, the catalog table matches the
// catalog, every link to a page or heading resolves, and no file refers to a document the repository
// does not contain. It has no code of its own.
package docscheck
