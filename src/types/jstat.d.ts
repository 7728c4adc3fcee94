// The part of jStat (which ships no types) this project uses: the χ² distribution's CDF, for p-values.
declare module 'jstat' {
  export const jStat: { chisquare: { cdf(x: number, degreesOfFreedom: number): number } };
}
