import type { Logger } from '@meshkv/common';

/** One peer's clock as this node last measured it. */
export interface PeerClock {
  readonly url: string;
  /**
   * The peer's clock minus this node's, ms (positive: the peer is ahead): of the offsets the
   * ping allows, the one nearest zero (see ClockWatch.measure).
   */
  readonly offsetMs: number;
  /** Round trip of the ping that measured it, ms. */
  readonly rttMs: number;
}

/** The smallest threshold, whatever MAX_CLOCK_DRIFT_MS: below it, offsets are measurement noise. */
const MIN_THRESHOLD_MS = 100;

/**
 * This node's clock against its peers', measured from the pings it sends: a ping carries
 * the sender's time, the answer the responder's; offset = responder's time - the middle of
 * the round trip (as NTP does). This node's own offset is minus the median of every
 * member's offset (itself counting as 0): a node whose clock is wrong sees every other
 * node off by the same amount, while the others see only it off. When that offset is more
 * than half of MAX_CLOCK_DRIFT_MS, the node is `skewed`: it stops stamping writes
 * (CLOCK_SKEW) rather than write in the future or refuse the present. NB: with two nodes
 * the median cannot tell which one is wrong, and neither stops; their peers' refusals of
 * drifted records still keep those from being acknowledged.
 */
export class ClockWatch {
  private readonly clocks = new Map<string, PeerClock>();
  /** Kept up to date by measure and forget: it is read for every write and every record received. */
  private offset = 0;
  private wasSkewed = false;
  readonly thresholdMs: number;

  constructor(
    maxClockDriftMs: number,
    private readonly logger: Logger,
  ) {
    this.thresholdMs = Math.max(MIN_THRESHOLD_MS, Math.floor(maxClockDriftMs / 2));
  }

  /**
   * A ping sent at `sentAt` (our clock) was answered at `answeredAt` with the peer's
   * `peerTime`. The peer read its clock somewhere in the round trip, so the offset is
   * `peerTime` - the middle of it give or take half the round trip (and a millisecond of
   * each clock's resolution); the offset kept is the one of that range nearest zero. Two
   * nodes on one clock thus measure 0 however slow the ping, rather than a few ms of noise
   * that would shift their expiries apart.
   */
  measure(url: string, sentAt: number, answeredAt: number, peerTime: number): void {
    const rttMs = Math.max(0, answeredAt - sentAt);
    const estimate = peerTime - (sentAt + answeredAt) / 2;
    const nearestZero = Math.sign(estimate) * Math.max(0, Math.abs(estimate) - rttMs / 2 - 1);
    this.clocks.set(url, { url, offsetMs: Math.round(nearestZero) || 0, rttMs });
    this.update();
  }

  forget(url: string): void {
    this.clocks.delete(url);
    this.update();
  }

  get peers(): PeerClock[] {
    return [...this.clocks.values()];
  }

  /** This node's clock minus the mesh's (the median member's), ms. */
  get offsetMs(): number {
    return this.offset;
  }

  get skewed(): boolean {
    return this.wasSkewed;
  }

  /** Minus the median of every member's offset, this node counting as 0. */
  private ownOffset(): number {
    const offsets = [0, ...[...this.clocks.values()].map((clock) => clock.offsetMs)].sort((a, b) => a - b);
    const middle = offsets.length / 2;
    // An even count has two middles: take the one closer to this node's own clock.
    const median = offsets.length % 2 === 1 ? (offsets[Math.floor(middle)] as number) : closerToZero(offsets[middle - 1] as number, offsets[middle] as number);
    return median === 0 ? 0 : -median;
  }

  private update(): void {
    this.offset = this.ownOffset();
    const skewed = Math.abs(this.offset) > this.thresholdMs;
    if (skewed === this.wasSkewed) return;
    this.wasSkewed = skewed;
    if (skewed) {
      this.logger.error(
        { offsetMs: this.offsetMs, thresholdMs: this.thresholdMs, peers: this.peers },
        "this node's clock is off from the other nodes' by more than half of MAX_CLOCK_DRIFT_MS: it takes no writes (503 CLOCK_SKEW) until the clock is corrected",
      );
    } else {
      this.logger.info({ offsetMs: this.offsetMs }, "this node's clock agrees with the other nodes' again: it takes writes");
    }
  }
}

function closerToZero(a: number, b: number): number {
  return Math.abs(a) <= Math.abs(b) ? a : b;
}
