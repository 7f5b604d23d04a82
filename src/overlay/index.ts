// tincan's overlay: NAT traversal, relays, path choice and the supernode network —
// the public entry point, and how the pieces assemble into a peer and a supernode.
//
// A peer: `startPeer(opts)` (peer.ts, the PeerNode of peer-api.ts; docs/protocol/peer.md)
// does all of the following; contact-link.ts is steps 3-5 for one contact. The sim NAT
// matrix still drives the same pieces through test/lab/programs/peer-core.ts:
//   1. One UDP socket for everything: `new OverlayMux(await bindUdp({ port }))`.
//   2. Classify the NAT: `NatClassifier` with the directory's STUN endpoint as `primary`
//      (+ its alternate port) and a supernode (SupernodeCore answers STUN) as `secondary`;
//      send `StunProbeCodec.encodeProbe(p)` for each probe, feed `decodeResponse` back
//      (responses arrive as the mux's unclaimed datagrams). Publish the candidates
//      (host + srflx, and the relay candidate of the supernode chosen by SupernodePicker)
//      and the NAT type in presence: `toDirectoryCandidates`, `toDirectoryNat`.
//   3. On a 'rendezvous' push (or our own POST /v1/rendezvous answer): credentials with
//      `iceCredentialsFor(r)`, role with `isControlling(r)`, start time with
//      `localStartAt(r, receivedAt)`, remote candidates with `fromDirectoryCandidates`,
//      plus both sides' relay candidate; a `RelayClient` with the rendezvous ticket.
//   4. `new PeerLink({ socket: mux.socketFor(), clock, agent: new CheckAgent(...), creds,
//      controlling, tieBreaker, hostCandidate, relay, onEvent })`, then `mux.attach(...)`.
//   5. The transport: an Endpoint + Driver on `link.transportSocket`, connecting to
//      `link.virtualPeer` (controlling side) or accepting (controlled side). Switches
//      between relayed and direct paths happen underneath; streams do not notice.
//      Contact keys from the directory go through `KeyPins.observe` before the session
//      layer's handshake trusts them.
// A supernode: `startRelayService({ directoryPublicKey, gossip: { self, seeds } })` —
// relay, gossip and STUN on one port — plus `registerAtDirectory` (supernode-registration.ts)
// so peers find it (`tincan supernode --directory`).
export { startPeer, type PeerOptions } from './peer.ts';
export { PeerError, type PeerNode, type ContactSession, type ContactStatus, type PathInfo, type PathKind, type PeerErrorCode } from './peer-api.ts';
export { registerAtDirectory, type SupernodeRegistration, type RegistrationOptions } from './supernode-registration.ts';
export { NatClassifier, type ClassifierConfig, type Classification, type Probe, type BindingFact } from './nat-classify.ts';
export { predictDirect, formatNatType, type NatType, type MappingBehavior, type FilteringBehavior } from './nat-types.ts';
export { StunProbeCodec } from './stun-probe.ts';
export { candidate, candidatePriority, pairPriority, formPairs, type Candidate, type CandidatePair, type CandidateType } from './candidates.ts';
export { CheckAgent, type CheckConfig, type CheckEvent, type CheckTransmit, type PairStatus } from './checks.ts';
export { encodeCheckRequest, encodeCheckResponse, decodeCheck, type IceCredentials, type DecodedCheck } from './check-wire.ts';
export { classifyDatagram, type DatagramKind } from './demux.ts';
export { PeerLink, DEFAULT_VIRTUAL_PEER, type PeerLinkConfig, type PeerLinkCounters } from './peer-link.ts';
export { OverlayMux } from './overlay-mux.ts';
export { RelayForwarder, type RelayConfig, type RelayCounters, type TicketVerifier, type TicketClaims, type TicketVerdict } from './relay.ts';
export { encodeRelayMessage, decodeRelayMessage, RelayDecodeError, RelayErrorCode, type RelayMessage } from './relay-wire.ts';
export { RelayClient, type RelayClientConfig, type RelayClientEvent, type RelayClientState } from './relay-client.ts';
export { directoryTicketVerifier, deviceIdHex } from './ticket-verifier.ts';
export { SupernodeCore, type SupernodeConfig, type SupernodeCounters } from './supernode.ts';
export { startRelayService, unixClock, type RelayService, type RelayServiceOptions } from './relay-service.ts';
export { GossipNode, type GossipConfig, type GossipMessage, type PeerRef, type ViewEntry } from './gossip.ts';
export { encodeGossipMessage, decodeGossipMessage, GossipDecodeError } from './gossip-wire.ts';
export { SupernodePicker, supernodeEligible, type PickerEvent } from './supernode-picker.ts';
export { KeyPins, type PinCheck, type PinRecord } from './key-pins.ts';
export { loadKeyPins, saveKeyPins, KeyPinFileError } from './key-pin-file.ts';
export {
  iceCredentialsFor, icePassword, iceUfrag, fromDirectoryCandidates, toDirectoryCandidates, fromDirectoryNat, toDirectoryNat, localStartAt, isControlling,
} from './directory-adapter.ts';
