/**
 * Read balancers. Both implement {@link Balancer}; `_test_balancer_cases.ts` is the
 * shared case suite every implementation must pass.
 *
 * @module
 */

import type { BalanceMode } from "../config/types.ts";

/** What a balancer needs to know about a node. */
export interface BalancerNode {
  /** Relative share; 0 is never picked. */
  readonly weight: number;
  /** Commands in flight on the node (least-pending uses it). */
  readonly pending: number;
}

/** Picks a node among the current candidates. */
export interface Balancer<N extends BalancerNode> {
  /** Replaces the candidate set (when routes or weights change). */
  reset(nodes: readonly N[]): void;
  /** Picks a node for which `skip` is not true, or undefined when none is left. */
  pick(skip?: (node: N) => boolean): N | undefined;
}

/**
 * Smooth weighted round robin (nginx's algorithm): every pick adds each
 * candidate's weight to its running score, takes the highest and subtracts
 * the total from it. Spreads picks evenly (weights 3:1 give a,a,b,a, not
 * a,a,a,b) and honours weights exactly over any window of `total` picks.
 */
export class SmoothRoundRobin<N extends BalancerNode> implements Balancer<N> {
  #nodes: readonly N[] = [];
  #score: Float64Array = new Float64Array(0);

  /** Replaces the candidates; scores of nodes still present are kept. */
  reset(nodes: readonly N[]): void {
    const score = new Float64Array(nodes.length);
    for (let i = 0; i < nodes.length; i++) {
      const old = this.#nodes.indexOf(nodes[i]);
      if (old >= 0) score[i] = this.#score[old];
    }
    this.#nodes = nodes;
    this.#score = score;
  }

  /** Picks the next node by smooth weighted round robin. */
  pick(skip?: (node: N) => boolean): N | undefined {
    const nodes = this.#nodes;
    const score = this.#score;
    let total = 0;
    let best = -1;
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i];
      const w = n.weight;
      if (w <= 0 || (skip !== undefined && skip(n))) continue;
      score[i] += w;
      total += w;
      if (best < 0 || score[i] > score[best]) best = i;
    }
    if (best < 0) return undefined;
    score[best] -= total;
    return nodes[best];
  }
}

/**
 * Least pending: the node with the fewest in-flight commands per unit of
 * weight. Ties (an idle shard has every node at zero) are broken by smooth
 * weighted round robin among the tied nodes, so weights still hold when
 * load is light and an idle shard still spreads its reads.
 */
export class LeastPending<N extends BalancerNode> implements Balancer<N> {
  #tie = new SmoothRoundRobin<N>();
  #nodes: readonly N[] = [];
  #minLoad = 0;
  #skip: ((node: N) => boolean) | undefined;
  #notLeast = (n: N): boolean =>
    (this.#skip !== undefined && this.#skip(n)) || n.pending / n.weight > this.#minLoad;

  /** Replaces the candidates. */
  reset(nodes: readonly N[]): void {
    this.#nodes = nodes;
    this.#tie.reset(nodes);
  }

  /** Picks among the nodes with the lowest pending / weight. */
  pick(skip?: (node: N) => boolean): N | undefined {
    let min = Infinity;
    for (const n of this.#nodes) {
      if (n.weight <= 0 || (skip !== undefined && skip(n))) continue;
      const load = n.pending / n.weight;
      if (load < min) min = load;
    }
    if (min === Infinity) return undefined;
    this.#minLoad = min;
    this.#skip = skip;
    const picked = this.#tie.pick(this.#notLeast);
    this.#skip = undefined;
    return picked;
  }
}

/** Creates the balancer for a config `balance` mode. */
export function createBalancer<N extends BalancerNode>(mode: BalanceMode): Balancer<N> {
  return mode === "least-pending" ? new LeastPending<N>() : new SmoothRoundRobin<N>();
}
