// Helpers of the type tests: each compiles only when what it checks holds,
// so a type that regresses fails `npm run test:types`.

/** Compiles only if `value` is assignable to a `To`. */
export declare function assignable<To>(value: To): void;

/** `true` only if `A` and `B` are the same type (`any` is the same only as `any`). */
export type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Compiles only if `value` is of type `T` exactly. */
export declare function exactly<T>(): <V>(value: V & (Equal<V, T> extends true ? unknown : never)) => void;

/** A value of type `T`, for checks that need one (never run). */
export declare function a<T>(): T;
