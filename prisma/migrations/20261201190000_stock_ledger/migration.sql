-- AlterTable
ALTER TABLE "items" DROP COLUMN "available";

-- AlterTable
ALTER TABLE "orders" ADD COLUMN     "stock_returned_at" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "stock_segments" (
    "item_id" BIGINT NOT NULL,
    "segment" INTEGER NOT NULL,
    "capacity" INTEGER NOT NULL,
    "sold" INTEGER NOT NULL DEFAULT 0,
    "enforced" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "stock_segments_pkey" PRIMARY KEY ("item_id","segment")
);

-- AddForeignKey
ALTER TABLE "stock_segments" ADD CONSTRAINT "stock_segments_item_id_fkey" FOREIGN KEY ("item_id") REFERENCES "items"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


-- Cancelled orders whose unit is still owed to Redis: the worker's retry scans only these.
CREATE INDEX "orders_owed_give_backs" ON "orders" ("item_id") WHERE "status" = 'CANCELLED' AND "stock_returned_at" IS NULL;
