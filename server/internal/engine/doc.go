// Package engine is flowhook's domain: workflow definitions and their validation, published
// versions, and the ports (interfaces) that storage and providers implement.
//
// The engine knows nothing of Connect, protobuf or Ent. The api package maps wire messages to
// the types here and maps the errors declared in errors.go to status codes; the store package
// implements the Store port over Ent.
package engine
