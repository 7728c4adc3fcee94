// A unit taken from stock is held under a reservation naming its order and buyer until the order's fate is known. If
// the process dies in between, the sweeper finds the reservation, asks the database, and settles it.

export function reservationOf(orderId: string, userId: string): string {
  return `${orderId}:${userId}`;
}

export function parseReservation(reservation: string): { orderId: string; userId: string } {
  const colon = reservation.indexOf(':');
  return { orderId: reservation.slice(0, colon), userId: reservation.slice(colon + 1) };
}
