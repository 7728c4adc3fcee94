// A unit taken from stock is held under a reservation naming its order and buyer until the order is committed.
// If the process dies in between, the sweeper finds the reservation, sees no order, and gives the unit back.

export function reservationOf(orderId: string, userId: string): string {
  return `${orderId}:${userId}`;
}

export function parseReservation(reservation: string): { orderId: string; userId: string } {
  const colon = reservation.indexOf(':');
  return { orderId: reservation.slice(0, colon), userId: reservation.slice(colon + 1) };
}
