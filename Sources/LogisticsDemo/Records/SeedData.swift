import Foundation

/// The records every demo process starts with: a small European road-freight operation whose
/// people match the demo accounts (dispatcher `dana`, drivers `drew` and `kim`, finance `fiona`; deploy/demo/seed.yaml).
enum SeedData {
    static func shipments(at start: Date) -> [Shipment] {
        let dana = Change(seededBy: "dana", at: start - 3 * 86_400)
        func shipment(
            _ number: Int, _ customer: String, _ origin: String, _ destination: String, _ weight: Int, _ status: String,
            _ driver: String?, _ vehicle: String?
        ) -> Shipment {
            Shipment(
                id: "SHP-\(number)", customer: customer, origin: origin, destination: destination, weightKg: weight, status: status,
                driver: driver, vehicleId: vehicle, created: dana)
        }
        return [
            shipment(1001, "Nordwind Foods", "Rotterdam, NL", "Hamburg, DE", 12_400, "in_transit", "drew", "VEH-11"),
            shipment(1002, "Alpenglas AG", "Innsbruck, AT", "Milan, IT", 8_200, "planned", "kim", "VEH-12"),
            shipment(1003, "Harbor Pharma", "Antwerp, BE", "Lyon, FR", 1_350, "picked_up", "drew", "VEH-11"),
            shipment(1004, "Baltic Timber", "Gdansk, PL", "Berlin, DE", 21_000, "delivered", "kim", "VEH-13"),
            shipment(1005, "Nordwind Foods", "Hamburg, DE", "Copenhagen, DK", 9_800, "planned", nil, nil),
        ]
    }

    static func vehicles(at start: Date) -> [Vehicle] {
        let fleet = Change(seededBy: "fleet-sync", at: start - 30 * 86_400)
        return [
            Vehicle(
                id: "VEH-11", plate: "RT-482-KX", model: "DAF XF 480", capacityKg: 24_000, depot: "Rotterdam", status: "on_route", created: fleet),
            Vehicle(
                id: "VEH-12", plate: "I-7731-AB", model: "Scania R 450", capacityKg: 24_000, depot: "Innsbruck", status: "available", created: fleet),
            Vehicle(
                id: "VEH-13", plate: "GD-93021", model: "Volvo FH 500", capacityKg: 26_000, depot: "Gdansk", status: "maintenance", created: fleet),
            Vehicle(
                id: "VEH-14", plate: "HH-LX-204", model: "Mercedes Sprinter 519", capacityKg: 2_100, depot: "Hamburg", status: "available",
                created: fleet),
        ]
    }

    static func drivers(at start: Date) -> [Driver] {
        let hr = Change(seededBy: "fleet-sync", at: start - 30 * 86_400)
        return [
            Driver(id: "DRV-21", login: "drew", name: "Drew Okafor", licenceClass: "CE", status: "active", created: hr),
            Driver(id: "DRV-22", login: "kim", name: "Kim Brandt", licenceClass: "CE", status: "active", created: hr),
            Driver(id: "DRV-23", login: "lee", name: "Lee Varga", licenceClass: "C1", status: "off_duty", created: hr),
        ]
    }

    static func invoices(at start: Date) -> [Invoice] {
        let fiona = Change(seededBy: "fiona", at: start - 86_400)
        return [
            Invoice(
                id: "INV-5001", customer: "Baltic Timber", shipmentId: "SHP-1004", amountCents: 184_000, currency: "EUR", status: "issued",
                created: fiona),
            Invoice(
                id: "INV-5002", customer: "Nordwind Foods", shipmentId: "SHP-1001", amountCents: 96_550, currency: "EUR", status: "draft",
                created: fiona),
        ]
    }
}
