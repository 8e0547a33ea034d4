// Package reliability holds ertkit's end-to-end reliability and security
// tests: the fault matrix over the SDK (package consumer) and the ert CLI,
// the no-loss / no-duplicate proofs based on SeqNumbers and the emulator's
// record of what it sent, slow-consumer bounds, emulator robustness against
// hostile clients, and a whole-session secret scan. It has no exported API;
// docs/RELIABILITY.md publishes the matrix and its outcomes.
//
// Every scenario runs over real loopback sockets against an in-process
// emulator and is bounded to 30 seconds.
package reliability
